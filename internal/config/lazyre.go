package config

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled at its first use. The
// package's patterns check a configuration's values; compiling them all
// at program start cost every command ~200 KB and ~1,400 allocations
// before main, whether it reads a configuration or not.
type lazyRegexp struct {
	pattern string
	once    sync.Once
	re      *regexp.Regexp
}

func newLazyRegexp(pattern string) *lazyRegexp { return &lazyRegexp{pattern: pattern} }

func (l *lazyRegexp) get() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.pattern) })
	return l.re
}

// MatchString is regexp.Regexp's.
func (l *lazyRegexp) MatchString(s string) bool { return l.get().MatchString(s) }

// FindStringSubmatch is regexp.Regexp's.
func (l *lazyRegexp) FindStringSubmatch(s string) []string { return l.get().FindStringSubmatch(s) }
