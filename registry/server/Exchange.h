// What the router sees of an HTTP exchange, independent of the network code: the request's head,
// a handler that receives its body piece by piece (so blobs stream to disk), and the response,
// which either carries a small body or names a range of a blob file to stream.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ingot::registry {

struct RequestHead {
    std::string method;  // "GET", "PUT", ...
    std::string target;  // as sent: path and query, still percent-encoded
    // A header's value, or nullopt when absent.
    std::function<std::optional<std::string>(std::string_view)> header;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // When set, the body is bytes [fileOffset, fileOffset + fileLength) of this file.
    std::string filePath;
    uint64_t fileOffset = 0;
    uint64_t fileLength = 0;
    // HEAD: send the headers (Content-Length included) and no body.
    bool headOnly = false;
    std::optional<uint64_t> headLength;

    void set(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
    }
};

// One request after its head was routed. `bodyLimit` is how many body bytes it accepts (413
// above); `onBody` receives them as they arrive; `onEnd` runs once the body is complete.
struct RequestHandler {
    uint64_t bodyLimit = 0;
    std::function<void(const char*, size_t)> onBody;
    std::function<Response()> onEnd;
    // Runs when the body could not be received whole (client gone, too large, timed out).
    std::function<void()> onAbort;
    // The request was refused from its head alone: the answer may go out before any body is
    // read (the connection is then closed rather than draining a body nobody wants).
    bool refused = false;
};

// The error JSON with its status.
Response errorResponse(int status, const std::string& code, const std::string& message,
                       const std::string& detail = {});

}  // namespace ingot::registry
