package logging

import (
	"context"
	"encoding"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
)

// Mask replaces every redacted secret value.
const Mask = "***"

// MinSecretLen is the shortest value a Redactor masks. Shorter values ("1",
// "true", "dev") would mask ordinary words all over the log.
const MinSecretLen = 4

// Redactor holds the secret values (server env values, header values) that
// must never reach a log. The set is replaced as a whole by Set, e.g. after a
// config reload. The zero value and a nil *Redactor redact nothing; a
// Redactor is safe for concurrent use.
type Redactor struct {
	set atomic.Pointer[secretSet]
}

// secretSet is one immutable generation of secrets. Handlers cache work per
// generation and compare pointers to notice a Set.
type secretSet struct {
	values   []string
	replacer *strings.Replacer
}

// Set replaces the secret values. Values shorter than MinSecretLen are
// ignored; duplicates are harmless.
func (r *Redactor) Set(values []string) {
	var keep []string
	for _, v := range values {
		if len(v) >= MinSecretLen {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		r.set.Store(&secretSet{})
		return
	}
	// Longest first: strings.Replacer prefers earlier pairs at a position,
	// so a secret that contains another is masked whole.
	slices.SortFunc(keep, func(a, b string) int {
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	keep = slices.Compact(keep)
	pairs := make([]string, 0, 2*len(keep))
	for _, v := range keep {
		pairs = append(pairs, v, Mask)
	}
	r.set.Store(&secretSet{values: keep, replacer: strings.NewReplacer(pairs...)})
}

// Redact returns s with every secret value replaced by Mask.
func (r *Redactor) Redact(s string) string {
	return r.current().redact(s)
}

func (r *Redactor) current() *secretSet {
	if r == nil {
		return nil
	}
	return r.set.Load()
}

func (s *secretSet) empty() bool { return s == nil || s.replacer == nil }

func (s *secretSet) redact(v string) string {
	if s.empty() {
		return v
	}
	return s.replacer.Replace(v)
}

// NewRedactingHandler wraps h so that every value registered in r is replaced
// by Mask in the message, attribute keys and values — strings, errors,
// []string, fmt.Stringer and any other value as it would be printed, inside
// groups and in attributes added with Logger.With — before h sees the
// record. Attributes added with With are redacted against the secrets of the
// moment each record is written, so a secret registered later is still masked.
func NewRedactingHandler(h slog.Handler, r *Redactor) slog.Handler {
	return &redactingHandler{base: h, r: r}
}

type redactingHandler struct {
	base slog.Handler // the wrapped handler, before any With call
	r    *Redactor
	ops  []withOp // With calls, in order, unredacted

	cache atomic.Pointer[derived]
}

// withOp is one WithAttrs (attrs) or WithGroup (group) call.
type withOp struct {
	group string
	attrs []slog.Attr
}

// derived is base with ops applied, redacted against one secret generation.
type derived struct {
	set *secretSet
	h   slog.Handler
}

func (h *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	set := h.r.current()
	inner := h.inner(set)
	if set.empty() {
		return inner.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, set.redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(set, a))
		return true
	})
	return inner.Handle(ctx, out)
}

// inner returns the wrapped handler with the With calls applied, redacted
// against set, building it once per secret generation.
func (h *redactingHandler) inner(set *secretSet) slog.Handler {
	if len(h.ops) == 0 {
		return h.base
	}
	if d := h.cache.Load(); d != nil && d.set == set {
		return d.h
	}
	inner := h.base
	for _, op := range h.ops {
		if op.attrs == nil {
			inner = inner.WithGroup(set.redact(op.group))
			continue
		}
		attrs := op.attrs
		if !set.empty() {
			attrs = make([]slog.Attr, len(op.attrs))
			for i, a := range op.attrs {
				attrs[i] = redactAttr(set, a)
			}
		}
		inner = inner.WithAttrs(attrs)
	}
	h.cache.Store(&derived{set: set, h: inner})
	return inner
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(withOp{attrs: slices.Clone(attrs)})
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(withOp{group: name})
}

func (h *redactingHandler) with(op withOp) *redactingHandler {
	ops := make([]withOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &redactingHandler{base: h.base, r: h.r, ops: append(ops, op)}
}

// redactAttr returns a with every secret in its key and value masked. A value
// that holds no secret is returned unchanged, keeping its type for handlers
// that care (JSON).
func redactAttr(set *secretSet, a slog.Attr) slog.Attr {
	a.Key = set.redact(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(set.redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = redactAttr(set, g)
		}
		a.Value = slog.GroupValue(out...)
	case slog.KindAny:
		a.Value = redactAny(set, v)
	default:
		// Numbers, booleans, times and durations carry no secret text.
		a.Value = v
	}
	return a
}

func redactAny(set *secretSet, v slog.Value) slog.Value {
	switch x := v.Any().(type) {
	case []string:
		var out []string
		for i, s := range x {
			if r := set.redact(s); r != s {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = r
			}
		}
		if out == nil {
			return v
		}
		return slog.AnyValue(out)
	case error:
		// The text handler prints %+v, the JSON handler Error(); either
		// may hold the secret.
		s := fmt.Sprintf("%+v", x)
		if r := set.redact(s); r != s || set.redact(x.Error()) != x.Error() {
			return slog.StringValue(r)
		}
		return v
	default:
		// Render the value as the text handler would; if the rendering
		// holds a secret, log the masked rendering instead of the value.
		s := render(x)
		if r := set.redact(s); r != s {
			return slog.StringValue(r)
		}
		return v
	}
}

// render formats x the way slog's text handler does. A panicking
// MarshalText (e.g. on a nil pointer) falls back to fmt, which reports it.
func render(x any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%+v", x)
		}
	}()
	switch y := x.(type) {
	case encoding.TextMarshaler:
		b, err := y.MarshalText()
		if err != nil {
			return fmt.Sprintf("!ERROR:%v", err)
		}
		return string(b)
	case []byte:
		return string(y)
	default:
		return fmt.Sprintf("%+v", x)
	}
}
