// reds._reds: the compiled half of the Python package `reds`. Its functions take and give plain values
// (JSON text, lists of numbers); the package's Python files (python/reds/) turn them into the public API.
#include <pybind11/pybind11.h>

#include <exception>

#include "bindings.h"
#include "reds/version.h"

namespace py = pybind11;

PYBIND11_MODULE(_reds, module) {
  module.doc() = "The compiled part of the reds package; use the reds module instead.";
  module.attr("__version__") = reds::kVersion;

  // The exception classes live in Python, where users see and subclass them; reds._errors builds the one
  // that matches the error's code.
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const reds::python::ErrorException& exception) {
      const reds::Error& error = exception.error;
      const py::object path = error.path.empty() ? py::object(py::none()) : py::object(py::str(error.path));
      const py::object instance =
          py::module_::import("reds._errors")
              .attr("error_from_code")(reds::to_string(error.code), error.message, path);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(instance.ptr())), instance.ptr());
    }
  });

  reds::python::register_plan(module);
  reds::python::register_knapsack(module);
  reds::python::register_scheduled_activation(module);
}
