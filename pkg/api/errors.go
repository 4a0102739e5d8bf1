package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// Error codes of ErrorDetail.Code.
const (
	CodeMalformedJSON   = "malformed_json"
	CodeUnknownField    = "unknown_field"
	CodeInvalidType     = "invalid_type"
	CodeBodyTooLarge    = "body_too_large"
	CodeInvalidArgument = "invalid_argument"
	CodeInvalidPipeline = "invalid_pipeline"
	CodeInvalidDecision = "invalid_decision"
	CodeInvalidInput    = "invalid_input"
	CodeNotFound        = "not_found"
	CodeMethodNotAllow  = "method_not_allowed"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotAssignee     = "not_assignee"
	CodeConflict        = "conflict"
	CodeAlreadyDecided  = "already_decided"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what was wrong with a request.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field is the request field at fault (JSON path such as
	// "decision.choice", or a query parameter or header name).
	Field string `json:"field,omitempty"`
	// DecidedBy lists who decided a human task (409 already_decided).
	DecidedBy []string `json:"decided_by,omitempty"`
	// Problems are the pipeline's problems (422 invalid_pipeline).
	Problems []dag.Problem `json:"problems,omitempty"`
}

// httpError is an error with its response.
type httpError struct {
	status int
	detail ErrorDetail
}

func (e *httpError) Error() string {
	if e.detail.Field != "" {
		return fmt.Sprintf("%d %s: %s: %s", e.status, e.detail.Code, e.detail.Field, e.detail.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.detail.Code, e.detail.Message)
}

func errorf(status int, code, field, format string, args ...any) *httpError {
	return &httpError{status: status, detail: ErrorDetail{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}}
}

func notFound(field, what, id string) *httpError {
	return errorf(http.StatusNotFound, CodeNotFound, field, "%s %q not found", what, id)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// decode reads exactly one JSON value into v, rejecting unknown fields,
// trailing data and oversize bodies (the body is already capped by
// http.MaxBytesReader).
func decode(r *http.Request, v any) *httpError {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "request body must hold a single JSON value")
	}
	return nil
}

func decodeError(err error) *httpError {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "", "request body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "request body is empty; send a JSON object")
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "malformed JSON: unexpected end of body")
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return errorf(http.StatusBadRequest, CodeInvalidType, "", "request body must be a JSON %s, not %s", typeName(ute), ute.Value)
		}
		return errorf(http.StatusBadRequest, CodeInvalidType, field, "%s must be %s, not %s", field, typeName(ute), ute.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(http.StatusBadRequest, CodeUnknownField, name, "unknown field %q", name)
	default:
		return errorf(http.StatusBadRequest, CodeMalformedJSON, "", "cannot decode request body: %v", err)
	}
}

func typeName(ute *json.UnmarshalTypeError) string {
	switch ute.Type.Kind().String() {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "int", "int64", "int32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	}
	return ute.Type.String()
}
