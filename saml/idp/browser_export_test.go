package idp

import "context"

// SetBrowserDriver makes b run the browser headless without typing and call
// drive with the tab's chromedp context when it starts waiting: the test
// plays the person at the keyboard of the interactive mode.
func SetBrowserDriver(b *Browser, drive func(ctx context.Context) error) { b.drive = drive }
