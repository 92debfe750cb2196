package cli

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Printable wraps w, the terminal a person reads the CLI's output on, so
// that no character a terminal acts on reaches it raw: C0 controls other
// than tab and newline (ESC starts the sequences that write the clipboard,
// retitle or clear the terminal; CR overwrites a line), DEL, C1 controls
// (U+0080–U+009F; U+009B is a CSI), the Unicode bidirectional controls that
// reorder what follows (U+202E, …) and the line and paragraph separators.
// Each is written as \uXXXX (a byte that is not UTF-8 as \xNN), so text a
// server controls (tool names and descriptions, errors, its stderr) is shown,
// not obeyed. A rune split across two Writes shows as its bytes. The escape is JSON's: -o json output stays valid and decodes
// to the same strings.
func Printable(w io.Writer) io.Writer { return &printable{w: w} }

type printable struct {
	w   io.Writer
	buf []byte
}

func (p *printable) Write(b []byte) (int, error) {
	in := b
	out := p.buf[:0]
	for i := 0; i < len(in); {
		c := in[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				out = fmt.Appendf(out, `\u%04x`, c)
			} else {
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size == 1 {
			out = fmt.Appendf(out, `\x%02x`, c)
			i++
			continue
		}
		if terminalControl(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, in[i:i+size]...)
		}
		i += size
	}
	p.buf = out
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// terminalControl reports whether a non-ASCII rune is one a terminal acts
// on: a C1 control, a bidirectional control, or a line/paragraph separator.
func terminalControl(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
