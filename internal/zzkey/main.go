package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/credfile"
	"github.com/rolehop/rolehop/internal/sourcedef"
)

func main() {
	cfg, _ := awsfile.ConfigPath()
	snap, err := (&awsfile.File{Path: cfg, Kind: awsfile.Config}).Snapshot()
	if err != nil { panic(err) }
	d, err := sourcedef.Resolve(os.Args[1], snap.Profile, sourcedef.Options{ConfigFile: cfg})
	if err != nil { panic(err) }
	dir, _ := credfile.DefaultDir()
	os.MkdirAll(dir, 0o700)
	b, _ := credfile.Encode(credfile.Entry{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token", Expires: time.Now().Add(time.Hour)})
	os.WriteFile(filepath.Join(dir, d.CacheKey+".json"), b, 0o600)
	fmt.Println(d.CacheKey)
}
