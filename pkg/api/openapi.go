package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var pathParamRe = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3 document of the API, generated from the
// route table the router is built from (so the two cannot drift).
func (s *Server) OpenAPI() map[string]any {
	schemas := map[string]any{}
	paths := map[string]any{}
	ref := func(v any) map[string]any {
		if v == nil {
			return map[string]any{"type": "object"}
		}
		return schemaOf(reflect.TypeOf(v), schemas)
	}
	schemaOf(reflect.TypeOf(ErrorBody{}), schemas)
	for _, rt := range s.routes {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		var params []any
		for _, m := range pathParamRe.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		for _, h := range rt.headers {
			params = append(params, map[string]any{"name": h, "in": "header", "schema": map[string]any{"type": "string"}})
		}
		success := map[string]any{"description": "success"}
		switch {
		case rt.sse:
			success["content"] = map[string]any{"text/event-stream": map[string]any{"schema": ref(Event{})}}
		case rt.op == "metrics":
			success["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		default:
			success["content"] = map[string]any{"application/json": map[string]any{"schema": ref(rt.resp)}}
		}
		errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/ErrorBody"}}}}
		op := map[string]any{
			"operationId": rt.op, "summary": rt.summary, "tags": []string{strings.SplitN(rt.op, ".", 2)[0]},
			"responses": map[string]any{strconv.Itoa(rt.status): success, "default": errResp},
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.req != nil {
			op["requestBody"] = map[string]any{"required": rt.op != "runs.cancel", "content": map[string]any{"application/json": map[string]any{"schema": ref(rt.req)}}}
		}
		if rt.roles[0] == public {
			op["security"] = []any{}
		} else {
			op["x-roles"] = rt.roles
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "ia-modules API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) *httpError {
	s.openapiOnce.Do(func() { s.openapiDoc, _ = json.MarshalIndent(s.OpenAPI(), "", "  ") })
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapiDoc)
	return nil
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// schemaOf returns the JSON schema of t, registering named structs in
// schemas and returning a $ref to them.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Struct:
		name := t.Name()
		if _, ok := schemas[name]; !ok {
			schemas[name] = map[string]any{} // break cycles
			props := map[string]any{}
			var embedded []any
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := strings.Split(f.Tag.Get("json"), ",")[0]
				if f.Anonymous && tag == "" {
					embedded = append(embedded, schemaOf(f.Type, schemas))
					continue
				}
				if tag == "-" {
					continue
				}
				if tag == "" {
					tag = f.Name
				}
				props[tag] = schemaOf(f.Type, schemas)
			}
			sc := map[string]any{"type": "object", "properties": props}
			if len(embedded) > 0 {
				sc = map[string]any{"allOf": append(embedded, sc)}
			}
			schemas[name] = sc
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}
