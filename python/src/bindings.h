// The pieces of the extension reds._reds: one registration function per part of the library, and the
// exception that carries a reds::Error to Python.
#pragma once

#include <pybind11/pybind11.h>

#include <utility>

#include "reds/status.h"

namespace reds::python {

// Thrown by the bindings, raised in Python as the reds.Error subclass of its code (reds/_errors.py).
struct ErrorException {
  Error error;
};

// Turns a failed Result into an ErrorException; returns the value otherwise.
template <class T>
T value_or_throw(Result<T>&& result) {
  if (!result) throw ErrorException{result.error()};
  return std::move(result).value();
}

void register_plan(pybind11::module_& module);
void register_knapsack(pybind11::module_& module);
void register_scheduled_activation(pybind11::module_& module);

}  // namespace reds::python
