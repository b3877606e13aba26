package httpapi

import _ "embed"

// openAPIDocument describes every route of routes.go (OpenAPI 3.1). The
// tests keep it true: TestOpenAPI_EveryRouteIsDocumented walks the
// registered patterns, and the end-to-end suite validates every response
// it receives against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the API's OpenAPI document, as GET /openapi.json
// serves it.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }
