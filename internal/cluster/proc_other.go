//go:build !linux

package cluster

import "os/exec"

func detach(*exec.Cmd) {}

// killGroup kills the server; its plugins notice their server is gone and exit.
func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
