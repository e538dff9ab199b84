package sfuapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeouts of the HTTP client NewHTTPClient makes. A session handler runs
// within API Gateway's 29-second integration timeout: a worker that does
// not answer in seconds is treated as down.
const (
	DefaultTimeout     = 5 * time.Second
	defaultDialTimeout = 2 * time.Second
	// maxErrorBody bounds the error body the Client reads.
	maxErrorBody = 64 << 10
)

// NewHTTPClient returns an http.Client with the control API's timeouts,
// meant to be shared by the Clients of every worker so that they pool
// connections.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: DefaultTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: defaultDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   defaultDialTimeout,
			ResponseHeaderTimeout: DefaultTimeout,
		},
	}
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the worker's control URL, such as http://10.0.1.7:7000.
	BaseURL string
	// Secret is the shared secret (at least MinSecretLen bytes).
	Secret string
	// HTTP is the client requests go through; NewHTTPClient() when nil.
	HTTP *http.Client
}

// Client calls one worker's control API. It is safe for concurrent use.
// Errors the worker answers are *APIError, which unwraps to ErrNoRoom,
// ErrNoMember, ErrBadSDP, ErrStaleAnswer, ErrBadMessage, ErrClosed,
// ErrDraining, ErrUnauthorized or ErrBadRequest when the code says so.
type Client struct {
	base   string
	auth   string
	client *http.Client
}

// NewClient returns a Client for cfg, or ErrBadURL or ErrShortSecret.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, cfg.BaseURL)
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, ErrShortSecret
	}
	if cfg.HTTP == nil {
		cfg.HTTP = NewHTTPClient()
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), auth: "Bearer " + cfg.Secret, client: cfg.HTTP}, nil
}

// Apply sends a room's whole desired state (PUT /v1/rooms/{room}).
func (c *Client) Apply(ctx context.Context, st RoomState) error {
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("sfuapi: apply %s: %w", st.Room, err)
	}
	if err := c.do(ctx, http.MethodPut, roomPath(st.Room), body); err != nil {
		return fmt.Errorf("sfuapi: apply %s: %w", st.Room, err)
	}
	return nil
}

// CloseRoom closes a room (DELETE /v1/rooms/{room}); closing a room the
// worker does not have is not an error.
func (c *Client) CloseRoom(ctx context.Context, room RoomID) error {
	if err := c.do(ctx, http.MethodDelete, roomPath(room), nil); err != nil {
		return fmt.Errorf("sfuapi: close %s: %w", room, err)
	}
	return nil
}

// Signal hands a member's media.offer, media.answer or media.candidate
// to the worker (POST /v1/rooms/{room}/members/{member}/signal).
func (c *Client) Signal(ctx context.Context, room RoomID, member MemberID, msgType string, payload json.RawMessage) error {
	body, err := json.Marshal(signalMsg{Type: msgType, Payload: payload})
	if err != nil {
		return fmt.Errorf("sfuapi: signal %s/%s: %w", room, member, err)
	}
	path := roomPath(room) + "/members/" + url.PathEscape(string(member)) + "/signal"
	if err := c.do(ctx, http.MethodPost, path, body); err != nil {
		return fmt.Errorf("sfuapi: signal %s/%s: %w", room, member, err)
	}
	return nil
}

func roomPath(room RoomID) string { return "/v1/rooms/" + url.PathEscape(string(room)) }

// do sends one request and turns an error response into an *APIError.
func (c *Client) do(ctx context.Context, method, path string, body []byte) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	if res.StatusCode/100 == 2 {
		return nil
	}
	var eb ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
		eb.Error.Code, eb.Error.Message = http.StatusText(res.StatusCode), strings.TrimSpace(string(data))
	}
	return &APIError{Status: res.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
}

// signalMsg is the body of a signal request on the wire.
type signalMsg struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}
