package app

import (
	"encoding/json"
	"strings"
)

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lineWith returns the first line of text that contains every one of
// subs, or "".
func lineWith(text string, subs ...string) string {
	for line := range strings.Lines(text) {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			return line
		}
	}
	return ""
}
