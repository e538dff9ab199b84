package wsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
)

// MaxMessageBytes is the largest client message taken; API Gateway itself
// refuses more than 128 KiB.
const MaxMessageBytes = 128 << 10

// envelope is what every client message carries: its type and an optional
// id echoed in the reply (a string or a number, kept as sent).
type envelope struct {
	Type string          `json:"type"`
	ID   json.RawMessage `json:"id,omitempty"`
}

// The bodies of the client messages of the contract (PROTOCOL.md).
type (
	devicesMsg struct {
		Mic *bool `json:"mic" validate:"required"`
		Cam *bool `json:"cam" validate:"required"`
	}
	userMsg struct {
		UserID string `json:"userId" validate:"required,max=64"`
	}
	textMsg struct {
		Text string `json:"text" validate:"required,notblank,max=1000,maxbytes=3000"`
	}
	questionTextMsg struct {
		Text string `json:"text" validate:"required,notblank,max=500,maxbytes=1500"`
	}
	listMsg struct {
		// Cursor is a state's questionsCursor or a page's cursor; "" or
		// absent starts from the top.
		Cursor string `json:"cursor" validate:"max=128"`
	}
	questionMsg struct {
		QuestionID string `json:"questionId" validate:"required,max=64"`
	}
	sdpMsg struct {
		SDP string `json:"sdp" validate:"required,max=65536"`
		// NegotiationID echoes the worker's offer in an answer, so the
		// worker drops an answer to an offer it has since replaced.
		NegotiationID *int64 `json:"negotiationId,omitempty"`
	}
	candidateMsg struct {
		Candidate json.RawMessage `json:"candidate" validate:"required"`
	}
	breakoutRoomMsg struct {
		Name string `json:"name"`
	}
	breakoutConfigureMsg struct {
		Rooms  []breakoutRoomMsg `json:"rooms" validate:"required,max=10"`
		Assign map[string]int    `json:"assign" validate:"max=500"`
		Auto   bool              `json:"auto"`
	}
	breakoutMoveMsg struct {
		UserID string `json:"userId" validate:"required,max=64"`
		Room   *int   `json:"room"`
	}
	breakoutTimerMsg struct {
		Minutes int `json:"minutes" validate:"required,min=1,max=240"`
		// WarnSeconds is how long before the end the closing warning
		// comes (60 when absent).
		WarnSeconds *int `json:"warnSeconds" validate:"omitempty,min=0,max=1800"`
	}
	emptyMsg struct{}
)

// bodies maps each message type to a constructor of its body; a type not
// here is unknown.
var bodies = map[string]func() any{
	"state.get":          func() any { return &emptyMsg{} },
	"devices.set":        func() any { return &devicesMsg{} },
	"presenter.assign":   func() any { return &userMsg{} },
	"session.start":      func() any { return &emptyMsg{} },
	"session.end":        func() any { return &emptyMsg{} },
	"hand.raise":         func() any { return &emptyMsg{} },
	"hand.lower":         func() any { return &emptyMsg{} },
	"hand.approve":       func() any { return &userMsg{} },
	"hand.decline":       func() any { return &userMsg{} },
	"stage.leave":        func() any { return &emptyMsg{} },
	"stage.remove":       func() any { return &userMsg{} },
	"member.remove":      func() any { return &userMsg{} },
	"chat.send":          func() any { return &textMsg{} },
	"qa.ask":             func() any { return &questionTextMsg{} },
	"qa.upvote":          func() any { return &questionMsg{} },
	"qa.answer":          func() any { return &questionMsg{} },
	"qa.dismiss":         func() any { return &questionMsg{} },
	"qa.list":            func() any { return &listMsg{} },
	"breakout.configure": func() any { return &breakoutConfigureMsg{} },
	"breakout.open":      func() any { return &emptyMsg{} },
	"breakout.close":     func() any { return &emptyMsg{} },
	"breakout.move":      func() any { return &breakoutMoveMsg{} },
	"breakout.broadcast": func() any { return &textMsg{} },
	"breakout.timer":     func() any { return &breakoutTimerMsg{} },
	"media.offer":        func() any { return &sdpMsg{} },
	"media.answer":       func() any { return &sdpMsg{} },
	"media.candidate":    func() any { return &candidateMsg{} },
}

// message is one decoded, validated client message.
type message struct {
	Type string
	ID   json.RawMessage
	Body any
}

// decodeError is a message that could not be decoded: the contract's
// `invalid` with the fields named.
type decodeError struct {
	id     json.RawMessage
	fields map[string]string
}

func (e *decodeError) Error() string { return "wsapi: invalid message" }

// decoder decodes and validates client messages.
type decoder struct {
	validate *validator.Validate
}

func newDecoder() decoder {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	})
	_ = v.RegisterValidation("notblank", func(fl validator.FieldLevel) bool {
		return strings.TrimSpace(fl.Field().String()) != ""
	})
	// maxbytes bounds a text in bytes, beside max in characters.
	_ = v.RegisterValidation("maxbytes", func(fl validator.FieldLevel) bool {
		n, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) <= n
	})
	return decoder{validate: v}
}

// decode turns one frame into a message. Every failure is a *decodeError
// naming the bad fields; the id is kept when it could be read.
func (d decoder) decode(frame []byte) (message, error) {
	var env envelope
	if err := json.Unmarshal(frame, &env); err != nil {
		return message{}, &decodeError{fields: map[string]string{"body": "must be one JSON object"}}
	}
	if len(env.ID) > 0 && !validID(env.ID) {
		return message{}, &decodeError{fields: map[string]string{"id": "must be a string or a number of at most 64 characters"}}
	}
	if env.Type == "" {
		return message{}, &decodeError{id: env.ID, fields: map[string]string{"type": "is required"}}
	}
	mk, ok := bodies[env.Type]
	if !ok {
		return message{}, &decodeError{id: env.ID, fields: map[string]string{"type": "unknown message type"}}
	}
	body := mk()
	if err := json.Unmarshal(frame, body); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return message{}, &decodeError{id: env.ID, fields: map[string]string{te.Field: "has the wrong type"}}
		}
		return message{}, &decodeError{id: env.ID, fields: map[string]string{"body": "is not valid"}}
	}
	if err := d.validate.Struct(body); err != nil {
		var ve validator.ValidationErrors
		fields := map[string]string{}
		if errors.As(err, &ve) {
			for _, fe := range ve {
				ns := fe.Namespace()
				if _, rest, ok := strings.Cut(ns, "."); ok {
					ns = rest
				}
				fields[ns] = describe(fe)
			}
		} else {
			fields["body"] = "is not valid"
		}
		return message{}, &decodeError{id: env.ID, fields: fields}
	}
	return message{Type: env.Type, ID: env.ID, Body: body}, nil
}

// validID accepts a JSON string or number of modest length as an id.
func validID(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || len(raw) > 66 {
		return false
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "notblank":
		return "must not be blank"
	case "max":
		if fe.Kind() == reflect.String {
			return "must be at most " + fe.Param() + " characters"
		}
		if fe.Kind() == reflect.Slice || fe.Kind() == reflect.Map {
			return "must hold at most " + fe.Param() + " items"
		}
		return "must be at most " + fe.Param()
	case "min":
		return "must be at least " + fe.Param()
	case "maxbytes":
		return "must be at most " + fe.Param() + " bytes of UTF-8"
	}
	return "is not valid (" + fe.Tag() + ")"
}
