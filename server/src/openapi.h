// The OpenAPI 3.1 document served at GET /openapi.json.
#pragma once

#include <string_view>

namespace reds::server {

// Every endpoint with JSON schemas of the plan request, the plan response, the health answer and the
// error body. The server tests validate real responses against it.
std::string_view openapi_document();

}  // namespace reds::server
