package docker

import (
	"errors"
	"testing"
)

func TestImageErrorMessage(t *testing.T) {
	tests := []struct {
		name, image, docker, want string
	}{
		{"refused", "127.0.0.1:40111/mcpproxy-test/x:1",
			`Error response from daemon: Get "http://127.0.0.1:40111/v2/": dial tcp 127.0.0.1:40111: connect: connection refused`,
			`image 127.0.0.1:40111/mcpproxy-test/x:1 is not present locally and could not be pulled from 127.0.0.1:40111: the registry refused the connection (Get "http://127.0.0.1:40111/v2/": dial tcp 127.0.0.1:40111: connect: connection refused) — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have`},
		{"name does not resolve", "registry.invalid/x:1",
			`Error response from daemon: Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on 10.0.0.53:53: no such host`,
			`image registry.invalid/x:1 is not present locally and could not be pulled from registry.invalid: the registry's name does not resolve (Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid on 10.0.0.53:53: no such host) — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have`},
		{"docker hub default", "mcpproxy-test/x:1",
			"Error response from daemon: pull access denied for mcpproxy-test/x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
			`image mcpproxy-test/x:1 is not present locally and could not be pulled from docker.io: access denied (for a private image: docker login) (pull access denied for mcpproxy-test/x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied) — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have`},
		{"not found", "ghcr.io/o/x:1", "Error response from daemon: manifest unknown",
			`image ghcr.io/o/x:1 is not present locally and could not be pulled from ghcr.io: the registry has no such image (manifest unknown) — build or load it (docker load / docker build), or set isolation.image / default_images to an image you have`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := &PullError{Image: tt.image, Message: tt.docker, Err: errors.New("exit status 1")}
			err := imageError(tt.image, pe)
			if got := err.Error(); got != tt.want {
				t.Fatalf("\ngot  %s\nwant %s", got, tt.want)
			}
			var ie *ImageError
			if !errors.As(err, &ie) || !errors.As(err, &pe) {
				t.Fatalf("%v: want an *ImageError wrapping the *PullError", err)
			}
		})
	}
}
