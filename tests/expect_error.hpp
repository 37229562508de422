#pragma once
// Shared by the Boost.Test suites: an error must be an auxgrid::Error whose
// message names what went wrong.
#include <boost/test/unit_test.hpp>
#include <initializer_list>
#include <string>

#include "auxgrid/core/check.hpp"

// Runs fn, which must throw auxgrid::Error with a message containing every fragment.
template <typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
  } catch (const auxgrid::Error& e) {
    const std::string message = e.what();
    for (const auto& f : fragments)
      BOOST_TEST(message.find(f) != std::string::npos, "'" << f << "' not in: " << message);
    return;
  }
  BOOST_FAIL("no auxgrid::Error thrown");
}
