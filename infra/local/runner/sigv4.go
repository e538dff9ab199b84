package runner

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The management API (@connections) takes only requests signed with
// Signature Version 4 by credentials allowed to manage connections, as
// API Gateway does: in the local runner, the runner's own, made at start
// and handed to its handlers' management client alone. What is signed is
// checked the way AWS checks it: the same canonical request, recomputed
// with the same signer, for the same service, region and time.
const (
	// signingService is API Gateway's management API's SigV4 service.
	signingService = "execute-api"
	// maxSigningSkew is how far a request's signing time may be from now:
	// an old signature cannot be replayed.
	maxSigningSkew = 5 * time.Minute
	amzDateLayout  = "20060102T150405Z"
)

// Reasons a request's signature is refused.
var (
	errUnsigned     = errors.New("missing authentication token")
	errBadSignature = errors.New("the request signature does not match")
	errSigningTime  = errors.New("signature expired: the signing time is too far from now")
)

// verifySigV4 checks that r, whose body is body, is signed with creds for
// service execute-api in region, at a time within maxSigningSkew of now.
// now is the wall clock: the signature is the transport's, and the SDK
// signs with the wall clock whatever the stack's own clock says.
func verifySigV4(r *http.Request, body []byte, creds aws.Credentials, region string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	fields, ok := parseAuthorization(auth)
	if !ok {
		return errUnsigned
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != creds.AccessKeyID || scope[2] != region || scope[3] != signingService || scope[4] != "aws4_request" {
		return errBadSignature
	}
	signedAt, err := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
	if err != nil || scope[1] != signedAt.Format("20060102") {
		return errBadSignature
	}
	if d := now.Sub(signedAt); d > maxSigningSkew || d < -maxSigningSkew {
		return errSigningTime
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return errBadSignature
	}
	// The request as the client signed it: the headers it names, the
	// path as it was sent.
	u := *r.URL
	u.Host, u.Scheme = r.Host, "http"
	copyReq := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}, ContentLength: r.ContentLength}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host", "content-length", "":
		default:
			copyReq.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, copyReq, payloadHash, signingService, region, signedAt); err != nil {
		return errBadSignature
	}
	want, _ := parseAuthorization(copyReq.Header.Get("Authorization"))
	if want["SignedHeaders"] != fields["SignedHeaders"] ||
		subtle.ConstantTimeCompare([]byte(want["Signature"]), []byte(fields["Signature"])) != 1 {
		return errBadSignature
	}
	return nil
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…" into its fields.
func parseAuthorization(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, false
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return nil, false
		}
	}
	return fields, true
}
