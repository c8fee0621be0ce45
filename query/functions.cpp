#include "query/functions.hpp"
