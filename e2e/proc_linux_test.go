package e2e

import (
	"os/exec"
	"syscall"
)

// detach has the kernel send SIGTERM to a child when the test binary dies (a test timeout, a crash), so Vault shuts
// down and stops its plugin processes instead of outliving the run. The child stays in the test's process group so a
// terminal's Ctrl-C reaches it too.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
