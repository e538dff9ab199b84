package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
	"github.com/go-playground/validator/v10/non-standard/validators"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// MaxBodyBytes is the largest request body accepted; larger gets 413.
const MaxBodyBytes = 64 << 10

// newValidator returns a validator that names fields by their JSON names.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	// Registering a built-in tag cannot fail.
	_ = v.RegisterValidation("notblank", validators.NotBlank)
	// printable refuses control characters: no name needs one, and JSON
	// sends each six bytes long in every state that lists the name.
	_ = v.RegisterValidation("printable", func(fl validator.FieldLevel) bool {
		return domain.Printable(fl.Field().String())
	})
	// maxbytes bounds a text in bytes, beside max in characters (as the
	// WebSocket's chat does).
	_ = v.RegisterValidation("maxbytes", func(fl validator.FieldLevel) bool {
		n, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) <= n
	})
	return v
}

// decode reads one JSON object from body into dst and validates it. Every
// problem comes back as an `invalid` error naming the field: malformed
// JSON names `body`, a wrong type names the field it was found in.
func (h *Handler) decode(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidField("body", "must hold exactly one JSON object")
	}
	if err := h.validate.Struct(dst); err != nil {
		var ve validator.ValidationErrors
		if errors.As(err, &ve) {
			return invalid(validationFields(ve))
		}
		return invalidField("body", "is not valid")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return invalidField("body", "must be a JSON object")
		}
		return invalidField(field, "must be a "+jsonKind(typeErr.Type))
	}
	return invalidField("body", "is not valid JSON")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list"
	default:
		return "object"
	}
}

// validationFields turns validator errors into the contract's fields map,
// keyed by JSON path without the struct name (`windows[0].start`).
func validationFields(ve validator.ValidationErrors) map[string]string {
	out := make(map[string]string, len(ve))
	for _, fe := range ve {
		ns := fe.Namespace()
		if _, rest, ok := strings.Cut(ns, "."); ok {
			ns = rest
		}
		if _, seen := out[ns]; !seen {
			out[ns] = describe(fe)
		}
	}
	return out
}

func describe(fe validator.FieldError) string {
	isText := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min":
		if isText {
			return fmt.Sprintf("must be at least %s characters", fe.Param())
		}
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("must hold at least %s items", fe.Param())
		}
		return "must be at least " + fe.Param()
	case "max":
		if isText {
			return fmt.Sprintf("must be at most %s characters", fe.Param())
		}
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("must hold at most %s items", fe.Param())
		}
		return "must be at most " + fe.Param()
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "notblank":
		return "must not be blank"
	case "printable":
		return "must not hold control characters"
	case "maxbytes":
		return fmt.Sprintf("must be at most %s bytes", fe.Param())
	}
	return "is not valid (" + fe.Tag() + ")"
}
