//go:build race

package e2e

// raceEnabled makes the harness build the plugin with the race detector too when the tests run with -race, so that
// the plugin's code is checked for races while a real Vault drives it.
const raceEnabled = true
