package docker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcpproxy/mcpproxy/internal/isolation"
)

// ImageError is an image that is not present locally and could not be
// pulled. Its message is one line that names the image, the registry, the
// cause and the fix.
type ImageError struct {
	// Image is the reference, as docker was given it.
	Image string
	// Registry is the host it was pulled from ("docker.io" by default).
	Registry string
	// Cause says why the pull failed, in a few words followed by docker's
	// own message.
	Cause string
	// Err is the pull's error (a *PullError).
	Err error
}

func (e *ImageError) Error() string {
	return fmt.Sprintf("image %s is not present locally and could not be pulled from %s: %s — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have",
		e.Image, e.Registry, e.Cause)
}

func (e *ImageError) Unwrap() error { return e.Err }

// causeMax bounds the part of docker's message an ImageError quotes.
const causeMax = 300

// imageError turns a failed pull of image into an *ImageError.
func imageError(image string, err error) error {
	msg := err.Error()
	var pe *PullError
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	return &ImageError{Image: image, Registry: isolation.RegistryOf(image), Cause: pullCause(msg), Err: err}
}

// pullCauses map words of docker's pull errors to what they mean, first
// match wins.
var pullCauses = []struct {
	words []string
	means string
}{
	{[]string{"no such host", "server misbehaving", "Temporary failure in name resolution"}, "the registry's name does not resolve"},
	{[]string{"connection refused"}, "the registry refused the connection"},
	{[]string{"timed out", "i/o timeout", "deadline exceeded", "TLS handshake timeout"}, "the registry did not answer in time"},
	{[]string{"unauthorized", "denied", "authentication required"}, "access denied (for a private image: docker login)"},
	{[]string{"not found", "manifest unknown", "name unknown", "NAME_UNKNOWN", "does not exist"}, "the registry has no such image"},
	{[]string{"network is unreachable", "no route to host"}, "the registry cannot be reached"},
}

// pullCause condenses docker's pull error to one line: what it means, then
// docker's last line without its "Error response from daemon:" prefix, cut
// to causeMax bytes.
func pullCause(msg string) string {
	last := ""
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			last = l
		}
	}
	last = strings.TrimSpace(strings.TrimPrefix(last, "Error response from daemon:"))
	if len(last) > causeMax {
		i := causeMax
		for i > 0 && (last[i]&0xC0) == 0x80 {
			i--
		}
		last = last[:i] + "…"
	}
	if last == "" {
		last = "docker pull failed"
	}
	for _, c := range pullCauses {
		for _, w := range c.words {
			if strings.Contains(msg, w) {
				return c.means + " (" + last + ")"
			}
		}
	}
	return last
}
