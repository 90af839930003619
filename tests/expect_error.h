// Helpers for tests of error paths: run a callable that must throw lieq::Error
// and return its message, so that the message can be matched with HasSubstr.
#pragma once

#include <exception>
#include <initializer_list>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/error.h"

namespace lieq::testing {

// Runs f; returns what() of the lieq::Error it throws. Records a test failure
// (and returns "") when f returns normally or throws anything else.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const lieq::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected lieq::Error, got another exception: " << e.what();
    return "";
  } catch (...) {
    ADD_FAILURE() << "expected lieq::Error, got a non-standard exception";
    return "";
  }
  ADD_FAILURE() << "expected lieq::Error, nothing was thrown";
  return "";
}

}  // namespace lieq::testing

// EXPECT_LIEQ_ERROR(statement, "substring", ...): statement throws lieq::Error
// whose message contains every given substring.
#define EXPECT_LIEQ_ERROR(statement, ...)                                                   \
  do {                                                                                      \
    const std::string lieq_msg_ = ::lieq::testing::error_message([&] { statement; });       \
    for (const std::string& lieq_sub_ : std::initializer_list<std::string>{__VA_ARGS__})     \
      EXPECT_THAT(lieq_msg_, ::testing::HasSubstr(lieq_sub_)) << "statement: " #statement;  \
  } while (0)
