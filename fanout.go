package alicloud

import "sync"

// maxFanOut bounds how many RAM calls one request makes at once, so that a
// role with many policies does not trip the account's API rate limit.
const maxFanOut = 8

// fanOut runs the independent calls fns at the same time (at most maxFanOut
// at once) and returns their errors, errs[i] for fns[i]. A request then waits
// for the slowest call instead of the sum of all of them.
func fanOut(fns []func() error) []error {
	errs := make([]error, len(fns))
	if len(fns) == 1 {
		errs[0] = fns[0]()
		return errs
	}
	sem := make(chan struct{}, maxFanOut)
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn()
		}()
	}
	wg.Wait()
	return errs
}
