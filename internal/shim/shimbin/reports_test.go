//go:build linux

package main

import (
	"reflect"
	"testing"
)

func TestParseMaxEvents(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"max 0\n", "0", true},
		{"max 46\n", "46", true},
		{"max 3", "3", true},
		// cgroup v2 on newer kernels: more lines, in any order.
		{"max.imposed 2\nmax 7\n", "7", true},
		{"max.imposed 2\n", "", false},
		{"", "", false},
		{"max \n", "", false},
		{"max -1\n", "", false},
		{"max 1234567890123456789\n", "", false},
		{"max 12 \n", "", false},
		{"maxx 4\n", "", false},
	} {
		got, ok := parseMaxEvents([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMaxEvents(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCgroupEventPaths(t *testing.T) {
	self := "9:name=systemd:/docker/ab\n8:pids:/docker/ab\n4:memory:/docker/ab\n0::/docker/ab\n"
	want := []string{"/sys/fs/cgroup/pids/docker/ab/pids.events", "/sys/fs/cgroup/docker/ab/pids.events"}
	if got := cgroupEventPaths(self); !reflect.DeepEqual(got, want) {
		t.Fatalf("cgroupEventPaths = %q, want %q", got, want)
	}
	if got := cgroupEventPaths("0::/\n"); !reflect.DeepEqual(got, []string{"/sys/fs/cgroup/pids.events"}) {
		t.Fatalf("root cgroup: %q", got)
	}
}
