// EXPECT_CONTAINS(text, part): `part` occurs in `text`; on failure both are printed.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace ingot::rollout::checks {

inline ::testing::AssertionResult containsFormat(const char* textExpr, const char* partExpr,
                                                 const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << partExpr << " (\"" << part << "\") is not in " << textExpr << ":\n"
           << text;
}

inline ::testing::AssertionResult lacksFormat(const char* textExpr, const char* partExpr,
                                              const std::string& text, const std::string& part) {
    if (text.find(part) == std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << partExpr << " (\"" << part << "\") is in " << textExpr << ":\n"
           << text;
}

}  // namespace ingot::rollout::checks

#define EXPECT_CONTAINS(text, part) \
    EXPECT_PRED_FORMAT2(::ingot::rollout::checks::containsFormat, text, part)
#define EXPECT_LACKS(text, part) \
    EXPECT_PRED_FORMAT2(::ingot::rollout::checks::lacksFormat, text, part)
