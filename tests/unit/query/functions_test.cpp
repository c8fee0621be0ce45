// functions tests
