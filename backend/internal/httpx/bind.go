package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Errors of reading a request, before any domain rule applies. The error
// table maps them like every other error.
var (
	ErrUnsupportedMediaType = errors.New("the request body is not application/json")
	ErrNoRoute              = errors.New("no endpoint at this path")
	ErrMethodNotAllowed     = errors.New("method not allowed on this path")
	ErrBodyTimeout          = errors.New("the request body did not arrive in time")
)

// BadRequestError is a body or parameter that cannot be parsed.
type BadRequestError struct {
	Detail string // what is wrong, for the client
	Cause  error
}

func (e *BadRequestError) Error() string {
	if e.Cause != nil {
		return e.Detail + ": " + e.Cause.Error()
	}
	return e.Detail
}

func (e *BadRequestError) Unwrap() error { return e.Cause }

// BadRequest is a BadRequestError with this detail.
func BadRequest(detail string) *BadRequestError { return &BadRequestError{Detail: detail} }

// TooLargeError is a request body over its route's limit.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the request body is larger than the limit of %d bytes", e.Limit)
}

// BindJSON decodes the JSON request body into dst. Unknown fields are
// ignored (older clients keep working when fields are added), but anything
// after the JSON value is refused. Failures: ErrUnsupportedMediaType for
// another content type, *TooLargeError for a body over the limit,
// *BadRequestError for an empty, truncated or malformed body or a value of
// the wrong type (naming the field).
func BindJSON(c *gin.Context, dst any) error {
	if !isJSONContentType(c.GetHeader("Content-Type")) {
		return ErrUnsupportedMediaType
	}
	if c.Request.Body == nil {
		return BadRequest("the request body is empty")
	}
	if err := DecodeJSON(c.Request.Body, dst); err != nil {
		return err // the deadline stays: it also bounds discarding the rest
	}
	BodyRead(c)
	return nil
}

// BodyRead lifts the deadline the body limit set for reading the request
// body, once all of it is read: what follows (a streamed answer) is not
// bounded by it. After a failed read the deadline must stay, because
// net/http reads what is left of the body after the handler.
func BodyRead(c *gin.Context) {
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Time{})
}

// DecodeJSON reads exactly one JSON value from r into dst, with BindJSON's
// failures.
func DecodeJSON(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	var trailing json.RawMessage
	switch err := dec.Decode(&trailing); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return BadRequest("the request body holds more than one JSON value")
	default:
		return decodeError(err)
	}
}

func isJSONContentType(header string) bool {
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil || mediaType != "application/json" {
		return false
	}
	charset, ok := params["charset"]
	return !ok || strings.EqualFold(charset, "utf-8")
}

// decodeError explains a json.Decoder failure to the client.
func decodeError(err error) error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
		netErr    net.Error
	)
	switch {
	case errors.As(err, &tooLarge):
		return &TooLargeError{Limit: tooLarge.Limit}
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%w: %w", ErrBodyTimeout, err)
	case errors.Is(err, io.EOF):
		return BadRequest("the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body ends in the middle of a JSON value")
	case errors.As(err, &syntax):
		return BadRequest(fmt.Sprintf("the request body is not valid JSON (at byte %d): %s", syntax.Offset, syntax.Error()))
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return BadRequest(fmt.Sprintf("the request body must be %s, not %s", jsonKind(wrongType.Type.Kind().String()), wrongType.Value))
		}
		return BadRequest(fmt.Sprintf("field %q must be %s, not %s", wrongType.Field, jsonKind(wrongType.Type.Kind().String()), wrongType.Value))
	}
	return &BadRequestError{Detail: "the request body is not valid JSON", Cause: err}
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return "another type"
}
