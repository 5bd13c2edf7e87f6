package cluster

import (
	"os/exec"
	"syscall"
)

// detach puts a server in its own process group, so that Kill takes its plugin processes with it (a node that
// dies takes its children along, as a crashed machine does), and has the kernel send SIGTERM to it if the process
// that started it dies.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup sends SIGKILL to the server's process group: the server and its plugins.
func killGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
