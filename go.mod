module lift

go 1.26.8
