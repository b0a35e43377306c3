// Package docs carries the documents the server itself serves: the
// OpenAPI description, which GET /openapi.json answers.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml, the API's OpenAPI 3.1 description.
//
//go:embed openapi.yaml
var OpenAPI []byte
