package config

import (
	"fmt"
	"math"
	"strconv"
)

// ParseMemory reads a memory size in docker's syntax ("512m", "1g", "1.5g",
// "256k", "1073741824", an optional b after the unit) as bytes. Units are
// powers of 1024; a fraction of a byte is dropped. The result is at least 1.
func ParseMemory(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("memory size %q: %s", s, sizeMsg)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: %s", s, sizeMsg)
	}
	unit := 1.0
	if m[2] != "" {
		switch m[2][0] {
		case 'k', 'K':
			unit = 1 << 10
		case 'm', 'M':
			unit = 1 << 20
		case 'g', 'G':
			unit = 1 << 30
		case 't', 'T':
			unit = 1 << 40
		}
	}
	b := n * unit
	if b < 1 || b >= math.MaxInt64 {
		return 0, fmt.Errorf("memory size %q: %s", s, sizeMsg)
	}
	return int64(b), nil
}

// ParseMilliCPUs reads a CPU quota ("1.0", "0.5", "2") as thousandths of a
// CPU, rounded to the nearest one. A quota below half a thousandth is an
// error: it would round to no CPU at all.
func ParseMilliCPUs(s string) (int64, error) {
	if !cpuRe.MatchString(s) {
		return 0, fmt.Errorf("cpu limit %q: %s", s, cpuMsg)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || f*1000 >= math.MaxInt64 {
		return 0, fmt.Errorf("cpu limit %q: %s", s, cpuMsg)
	}
	m := int64(math.Round(f * 1000))
	if m < 1 {
		return 0, fmt.Errorf("cpu limit %q: %s", s, cpuMsg)
	}
	return m, nil
}
