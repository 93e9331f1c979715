.PHONY: setup check test demo
setup:
	scripts/setup --dev
check:
	scripts/check
test:
	scripts/test
demo:
	scripts/demo
