//go:build !linux

package e2e

import "os/exec"

// detach does nothing outside Linux, which has no parent-death signal; the tests' cleanups stop their children.
func detach(cmd *exec.Cmd) {}
