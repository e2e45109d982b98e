// The knapsack library for Python. Items arrive as Python lists (reds/knapsack.py turns NumPy arrays and
// other sequences into lists first); profits are solved as integers when every one is an integer, as reals
// otherwise, like the C++ overloads.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bindings.h"
#include "reds/knapsack.h"

namespace py = pybind11;

namespace reds::python {
namespace {

namespace ks = reds::knapsack;

std::string describe(py::handle value) { return py::repr(value).cast<std::string>(); }

bool is_integer(py::handle value) {
  return PyLong_Check(value.ptr()) || (!PyFloat_Check(value.ptr()) && PyIndex_Check(value.ptr()));
}

std::int64_t read_integer(py::handle value, const std::string& name) {
  if (!is_integer(value)) throw py::type_error(name + " must be an integer, got " + describe(value));
  const py::int_ integer = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
  if (!integer) throw py::error_already_set();
  int overflow = 0;
  const long long result = PyLong_AsLongLongAndOverflow(integer.ptr(), &overflow);
  if (overflow != 0)
    throw ErrorException{
        invalid_argument(name + " = " + describe(value) + " is outside the 64-bit integer range")};
  if (result == -1 && PyErr_Occurred()) throw py::error_already_set();
  return static_cast<std::int64_t>(result);
}

double read_real(py::handle value, const std::string& name) {
  const PyNumberMethods* number = Py_TYPE(value.ptr())->tp_as_number;
  if (!is_integer(value) && !PyFloat_Check(value.ptr()) && (number == nullptr || number->nb_float == nullptr))
    throw py::type_error(name + " must be a number, got " + describe(value));
  const double result = PyFloat_AsDouble(value.ptr());
  if (result == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw ErrorException{invalid_argument(name + " = " + describe(value) + " is too large for a double")};
  }
  return result;
}

py::list as_list(py::handle values, const std::string& name) {
  if (!PyList_Check(values.ptr())) throw py::type_error(name + " must be a list, got " + describe(values));
  return py::reinterpret_borrow<py::list>(values);
}

std::string item_name(const std::string& list, std::size_t index) {
  return list + "[" + std::to_string(index) + "]";
}

bool all_integers(const py::list& values) {
  for (py::handle value : values)
    if (!is_integer(value)) return false;
  return true;
}

template <class Profit>
Profit read_profit(py::handle value, const std::string& name) {
  if constexpr (std::is_same_v<Profit, double>) {
    return read_real(value, name);
  } else {
    return read_integer(value, name);
  }
}

// One class of items (or all items of a 0-1 problem) from parallel lists of profits and weights.
template <class Profit>
std::vector<ks::Item<Profit>> read_items(const py::list& profits, const py::list& weights,
                                         const std::string& profits_name, const std::string& weights_name) {
  if (profits.size() != weights.size())
    throw ErrorException{invalid_argument(profits_name + " has " + std::to_string(profits.size()) +
                                          " entries but " + weights_name + " has " +
                                          std::to_string(weights.size()))};
  std::vector<ks::Item<Profit>> items(profits.size());
  for (std::size_t j = 0; j < items.size(); ++j) {
    items[j].profit = read_profit<Profit>(profits[j], item_name(profits_name, j));
    items[j].weight = read_integer(weights[j], item_name(weights_name, j));
  }
  return items;
}

ks::Options solve_options(std::int64_t time_limit_ms) {
  ks::Options options;
  options.time_limit_ms = time_limit_ms;
  return options;
}

template <class Profit>
py::tuple solve_zero_one(const py::list& profits, const py::list& weights, std::int64_t capacity,
                         std::int64_t time_limit_ms) {
  ks::Problem<Profit> problem;
  problem.items = read_items<Profit>(profits, weights, "profits", "weights");
  problem.capacity = capacity;
  Result<ks::Solution<Profit>> solution = [&] {
    const py::gil_scoped_release release;
    return ks::solve(problem, solve_options(time_limit_ms));
  }();
  const ks::Solution<Profit> value = value_or_throw(std::move(solution));
  return py::make_tuple(ks::to_string(value.status), value.profit, value.upper_bound, value.weight,
                        value.items);
}

template <class Profit>
py::tuple solve_multiple_choice(const py::list& profits, const py::list& weights, std::int64_t capacity,
                                std::int64_t time_limit_ms) {
  if (profits.size() != weights.size())
    throw ErrorException{invalid_argument("profits has " + std::to_string(profits.size()) +
                                          " classes but weights has " + std::to_string(weights.size()))};
  ks::MultipleChoiceProblem<Profit> problem;
  problem.capacity = capacity;
  problem.classes.reserve(profits.size());
  for (std::size_t i = 0; i < profits.size(); ++i) {
    const std::string profits_name = item_name("profits", i);
    const std::string weights_name = item_name("weights", i);
    problem.classes.push_back(read_items<Profit>(
        as_list(profits[i], profits_name), as_list(weights[i], weights_name), profits_name, weights_name));
  }
  Result<ks::MultipleChoiceSolution<Profit>> solution = [&] {
    const py::gil_scoped_release release;
    return ks::solve(problem, solve_options(time_limit_ms));
  }();
  const ks::MultipleChoiceSolution<Profit> value = value_or_throw(std::move(solution));
  return py::make_tuple(ks::to_string(value.status), value.profit, value.upper_bound, value.weight,
                        value.choice);
}

py::tuple solve_zero_one_any(const py::list& profits, const py::list& weights, std::int64_t capacity,
                             std::int64_t time_limit_ms) {
  return all_integers(profits) ? solve_zero_one<std::int64_t>(profits, weights, capacity, time_limit_ms)
                               : solve_zero_one<double>(profits, weights, capacity, time_limit_ms);
}

py::tuple solve_multiple_choice_any(const py::list& profits, const py::list& weights, std::int64_t capacity,
                                    std::int64_t time_limit_ms) {
  bool integers = true;
  for (std::size_t i = 0; i < profits.size() && integers; ++i)
    integers = all_integers(as_list(profits[i], item_name("profits", i)));
  return integers ? solve_multiple_choice<std::int64_t>(profits, weights, capacity, time_limit_ms)
                  : solve_multiple_choice<double>(profits, weights, capacity, time_limit_ms);
}

}  // namespace

void register_knapsack(py::module_& module) {
  module.def("knapsack_solve", &solve_zero_one_any, py::arg("profits"), py::arg("weights"),
             py::arg("capacity"), py::arg("time_limit_ms"),
             "0-1 knapsack from lists; returns (status, profit, upper_bound, weight, chosen item indices).");
  module.def("knapsack_solve_multiple_choice", &solve_multiple_choice_any, py::arg("profits"),
             py::arg("weights"), py::arg("capacity"), py::arg("time_limit_ms"),
             "Multiple-choice knapsack from lists of classes; returns (status, profit, upper_bound, weight, "
             "chosen item index per class).");
}

}  // namespace reds::python
