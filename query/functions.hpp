#pragma once
// PromQL's numeric functions as plain functions over samples and numbers.
// No AST, no series_source: the evaluator calls them.
