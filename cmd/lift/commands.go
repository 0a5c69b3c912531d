package main

// commandTable lists every subcommand; each lives in its own file.
func commandTable() map[string]*command {
	t := map[string]*command{}
	for _, c := range []*command{
		serveCommand,
		demoCommand,
		migrateCommand,
		importCommand,
		trainCommand,
		modelsCommand,
		predictionsCommand,
		experimentsCommand,
		gbdtCommand,
		banditCommand,
	} {
		t[c.name] = c
	}
	return t
}
