// Package relations as binary packages write them in Depends, Pre-Depends and Provides
// (deb-control(5)): "a (>= 1.0) | b:any, c". Architecture lists and build profiles belong to
// source packages and are refused here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/debian/Version.h"

namespace ingot::patch {

struct Alternative {
    std::string name;
    std::string archQualifier;  // "" | "any" | "native" | an architecture
    std::string op;             // "" | "<<" | "<=" | "=" | ">=" | ">>"
    std::optional<debian::Version> version;
    std::string text;  // normalised: "name:qual (op version)"

    // Whether `candidate` meets the version constraint (always, when there is none).
    bool accepts(const debian::Version& candidate) const;
};

using Relation = std::vector<Alternative>;  // alternatives, "a | b"

// The comma-separated groups of a relation field, each as written (blanks trimmed).
std::vector<std::string_view> splitRelations(std::string_view text);

// Throws ingot::Error (kUsage) saying what is malformed; `field` names it ("Depends of hello").
std::vector<Relation> parseRelations(std::string_view text, std::string_view field);

std::string relationText(const Relation& relation);  // "a (>= 1) | b"

}  // namespace ingot::patch
