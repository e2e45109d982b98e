#include "openapi.h"

#include "reds/version.h"

namespace reds::server {

// Written by hand, in the plan contract's words; tests/server validates every kind of response against it.
// JSON Schema keywords used here are the ones tests/support/json_schema.h implements; the schemas state
// the contract's types and ranges, while rules that relate fields (importance has `units` numbers, levels
// grow...) are the server's to check and answer with 400.
std::string_view openapi_document() {
  static constexpr std::string_view document = R"json({
  "openapi": "3.1.0",
  "info": {
    "title": "reds-server",
    "version": ")json" REDS_VERSION_STRING R"json(",
    "summary": "Exact nested subnetwork planning over HTTP (plan contract v1.1).",
    "description": "POST a network's layer costs and unit importance with budget levels; get back, per level, the widths of nested subnetworks that maximise the kept importance."
  },
  "paths": {
    "/plan": {
      "post": {
        "operationId": "plan",
        "summary": "Plan nested subnetworks for a plan request.",
        "description": "The request's time_limit_ms is capped by the server's --max-time-ms, which also applies when the request has none. At most --max-inflight plans are solved at once; further requests wait, first come first served, in a queue of at most --queue-size requests for at most --queue-wait-ms each; beyond that the answer is 503 with Retry-After.",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlanRequest"}}}
        },
        "responses": {
          "200": {"description": "The plan.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlanResponse"}}}},
          "400": {"$ref": "#/components/responses/InvalidArgument"},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "408": {"description": "The body did not arrive within --body-timeout-ms of the headers, or the request line and headers within --header-timeout-ms of their first byte (code deadline_exceeded); the connection closes.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "411": {"description": "The request has no body: neither a Content-Length header nor chunked Transfer-Encoding (code invalid_argument).",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "413": {"description": "The body is larger than --max-body-bytes, or the request too large to handle (code resource_exhausted).",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "415": {"description": "The body is multipart/form-data, or its Content-Encoding is not one the server decodes (the message names it); send the request as JSON (any Content-Type; gzip, deflate and br Content-Encoding are decoded).",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "500": {"$ref": "#/components/responses/Internal"},
          "503": {"description": "Every solver slot is busy and the queue for one full, or no slot came free within --queue-wait-ms; or the server holds --max-connections connections (code resource_exhausted). Retry after the number of seconds in Retry-After.",
                  "headers": {"Retry-After": {"description": "Seconds to wait before retrying.",
                                              "schema": {"type": "integer", "minimum": 1}}},
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
          "504": {"description": "The time limit passed before any plan was found (code deadline_exceeded).",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      }
    },
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Plan a small bundled network (CNN S, three MAC levels); healthy only if the plan is optimal.",
        "responses": {
          "200": {"description": "The check plan is optimal.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"},
          "503": {"description": "The check plan failed or is not optimal.",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Metrics in the Prometheus text exposition format 0.0.4.",
        "description": "reds_http_requests_total{endpoint,code} (counter), reds_http_requests_in_flight and reds_plan_solves_in_flight (gauges), reds_plan_solve_slots (gauge, --max-inflight), reds_plan_queued and reds_plan_queue_size (gauges, --queue-size), reds_http_connections_open (gauge) and reds_http_connections_refused_total (counter, --max-connections), reds_plan_duration_seconds (histogram: parse, plan and answer of one POST /plan), reds_plans_total{status} (counter).",
        "responses": {
          "200": {"description": "The metrics.",
                  "content": {"text/plain": {"schema": {"type": "string"}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": {
          "200": {"description": "The OpenAPI document.",
                  "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "info", "paths"]}}}},
          "405": {"$ref": "#/components/responses/MethodNotAllowed"}
        }
      }
    }
  },
  "components": {
    "responses": {
      "InvalidArgument": {
        "description": "The request breaks a rule of the plan contract (code invalid_argument); path points at the offending value.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "MethodNotAllowed": {
        "description": "The path exists but not with this method; the Allow header lists the methods it has.",
        "headers": {"Allow": {"description": "The allowed methods.", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "NotFound": {
        "description": "No such endpoint.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      },
      "Internal": {
        "description": "A bug of the server (code internal).",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
      }
    },
    "schemas": {
      "Count": {"type": "integer", "minimum": 0, "maximum": 9007199254740991},
      "PositiveCount": {"type": "integer", "minimum": 1, "maximum": 9007199254740991},
      "Strategy": {"type": "string", "enum": ["bottom_up", "top_down", "independent", "joint"],
                   "description": "How the levels nest (plan contract v1): bottom_up (default), top_down, independent (not nested), joint (the best nested chain for the weighted sum of importances)."},
      "PlanRequest": {
        "type": "object",
        "required": ["network", "levels"],
        "additionalProperties": false,
        "properties": {
          "network": {"$ref": "#/components/schemas/Network"},
          "levels": {"type": "array", "minItems": 1, "maxItems": 64,
                     "items": {"$ref": "#/components/schemas/Level"},
                     "description": "Budget levels, smallest first; every limit at least the previous level's."},
          "strategy": {"$ref": "#/components/schemas/Strategy"},
          "weights": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0},
                      "description": "Only with joint: one positive weight per level (default 1)."},
          "time_limit_ms": {"$ref": "#/components/schemas/PositiveCount"},
          "objective": {"type": "string", "enum": ["sum", "normalized", "product"],
                        "description": "Extension of contract v1: what the levels maximise. sum (default): the importances as given; normalized: every layer's (with its tied layers) scaled to sum 1; product: the product over layers of the kept share of importance, maximised as a sum of logarithms (no one-unit bottlenecks). Importances in the response are in the objective's units."}
        }
      },
      "Network": {
        "type": "object",
        "required": ["inputs", "layers"],
        "additionalProperties": false,
        "properties": {
          "name": {"type": "string"},
          "inputs": {"$ref": "#/components/schemas/PositiveCount"},
          "resources": {"type": "object",
                        "additionalProperties": {"type": "string", "enum": ["sum", "max"]},
                        "description": "Aggregation per resource; sum by default, max for activation."},
          "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Layer"}}
        }
      },
      "Layer": {
        "type": "object",
        "required": ["name", "units", "importance"],
        "additionalProperties": false,
        "properties": {
          "name": {"type": "string", "minLength": 1},
          "units": {"$ref": "#/components/schemas/PositiveCount"},
          "importance": {"type": "array", "items": {"type": "number", "minimum": 0},
                         "description": "Exactly `units` finite numbers, in the layer's original unit order."},
          "min_units": {"$ref": "#/components/schemas/PositiveCount"},
          "block": {"$ref": "#/components/schemas/PositiveCount"},
          "prunable": {"type": "boolean"},
          "tied": {"type": "boolean"},
          "stream": {"type": "string", "minLength": 1,
                     "description": "Layers with one stream keep one width and one unit order (their outputs are added)."},
          "input": {"type": "string", "minLength": 1,
                    "description": "An earlier layer whose kept width is this layer's k_in (default: the previous layer)."},
          "cost": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/CostTerms"}}
        }
      },
      "CostTerms": {
        "type": "object",
        "additionalProperties": false,
        "description": "fixed + unit*k + input*k_in + unit_input*k*k_in (+ table[k-1]) + sum of c*k(layer) over held.",
        "properties": {
          "fixed": {"$ref": "#/components/schemas/Count"},
          "unit": {"$ref": "#/components/schemas/Count"},
          "input": {"$ref": "#/components/schemas/Count"},
          "unit_input": {"$ref": "#/components/schemas/Count"},
          "table": {"type": "array", "items": {"$ref": "#/components/schemas/Count"}},
          "held": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Count"},
                   "description": "Earlier layer name to c: adds c times that layer's kept width (a tensor live during this layer)."}
        }
      },
      "Level": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"$ref": "#/components/schemas/Limit"},
        "description": "Resource name to limit."
      },
      "Limit": {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": false,
        "properties": {
          "fraction": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
          "max": {"$ref": "#/components/schemas/Count"}
        }
      },
      "Costs": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Count"}},
      "PlanResponse": {
        "type": "object",
        "required": ["status", "strategy", "full", "order", "levels", "solve_seconds"],
        "additionalProperties": false,
        "properties": {
          "status": {"type": "string", "enum": ["optimal", "feasible", "infeasible"],
                     "description": "The worst status of the levels."},
          "strategy": {"$ref": "#/components/schemas/Strategy"},
          "full": {"type": "object", "required": ["cost", "importance"], "additionalProperties": false,
                   "properties": {"cost": {"$ref": "#/components/schemas/Costs"},
                                  "importance": {"type": "number", "minimum": 0}}},
          "order": {"type": "object",
                    "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/Count"}},
                    "description": "Per layer, its unit indices, most important first."},
          "levels": {"type": "array", "minItems": 1,
                     "items": {"oneOf": [{"$ref": "#/components/schemas/FeasibleLevel"},
                                         {"$ref": "#/components/schemas/InfeasibleLevel"}]}},
          "objective": {"type": "number", "minimum": 0,
                        "description": "joint only: the weighted sum of the levels' importances."},
          "objective_upper_bound": {"type": "number", "minimum": 0, "description": "joint only."},
          "objective_gap": {"type": "number", "minimum": 0, "maximum": 1, "description": "joint only."},
          "solve_seconds": {"type": "number", "minimum": 0}
        }
      },
      "FeasibleLevel": {
        "type": "object",
        "required": ["status", "limits", "widths", "cost", "importance", "upper_bound", "gap"],
        "additionalProperties": false,
        "properties": {
          "status": {"type": "string", "enum": ["optimal", "feasible"],
                     "description": "optimal: proved; feasible: the time limit cut the search short."},
          "limits": {"$ref": "#/components/schemas/Costs"},
          "widths": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/PositiveCount"}},
          "cost": {"$ref": "#/components/schemas/Costs"},
          "importance": {"type": "number", "minimum": 0},
          "upper_bound": {"type": "number", "minimum": 0},
          "gap": {"type": "number", "minimum": 0, "maximum": 1},
          "independent_importance": {"type": "number", "minimum": 0}
        }
      },
      "InfeasibleLevel": {
        "type": "object",
        "required": ["status", "limits"],
        "additionalProperties": false,
        "properties": {
          "status": {"type": "string", "enum": ["infeasible"]},
          "limits": {"$ref": "#/components/schemas/Costs"},
          "independent_importance": {"type": "number", "minimum": 0}
        }
      },
      "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {
          "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": false,
            "properties": {
              "code": {"type": "string",
                       "enum": ["invalid_argument", "resource_exhausted", "deadline_exceeded", "internal"]},
              "message": {"type": "string", "minLength": 1},
              "path": {"type": "string", "description": "JSON Pointer to the offending value."}
            }
          }
        }
      },
      "Health": {
        "type": "object",
        "required": ["status", "version", "check"],
        "additionalProperties": false,
        "properties": {
          "status": {"type": "string", "enum": ["ok", "failing"]},
          "version": {"type": "string"},
          "check": {
            "type": "object",
            "required": ["network", "status"],
            "additionalProperties": false,
            "properties": {
              "network": {"type": "string"},
              "status": {"type": "string", "enum": ["optimal", "feasible", "infeasible", "error"]},
              "solve_seconds": {"type": "number", "minimum": 0},
              "error": {"type": "string"}
            }
          }
        }
      }
    }
  }
})json";
  return document;
}

}  // namespace reds::server
