// The operation kinds, one per file in this directory; Operation.cpp lists them.
#pragma once

#include "ingot/patcher/Operation.h"

namespace ingot::patcher {

extern const OperationKind kFileOperation;
extern const OperationKind kRemoveOperation;
extern const OperationKind kMkdirOperation;
extern const OperationKind kSymlinkOperation;
extern const OperationKind kChmodOperation;
extern const OperationKind kChownOperation;
extern const OperationKind kPatchOperation;
extern const OperationKind kAppendOperation;
extern const OperationKind kUnpackOperation;

}  // namespace ingot::patcher
