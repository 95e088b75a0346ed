# machi: PostgreSQL extension (PGXS) + gateway.  `make run` starts the whole
# service locally with demo data; `make test` runs every test suite.

EXTVERSION := $(shell sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" control/machi.control)

MODULE_big = machi
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard extension/*.c)))
DATA = control/machi.control
DATA_built = machi--$(EXTVERSION).sql
MODULEDIR = extension
PG_CPPFLAGS = -DMACHI_VERSION=\"$(EXTVERSION)\" -I$(srcdir)/extension
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-cast-function-type
SHLIB_LINK = -lsodium -lzxcvbn

# pg_regress: one file per feature, run in this order
REGRESS = install privileges admin context rls routing locate reports photos open311
REGRESS_OPTS = --inputdir=. --outputdir=$(CURDIR)/var/test/regress
ISOLATION = 
ISOLATION_OPTS = --inputdir=. --outputdir=$(CURDIR)/var/test/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

machi--$(EXTVERSION).sql: $(sort $(wildcard extension/sql/*.sql)) control/machi.control
	cat $(sort $(wildcard extension/sql/*.sql)) | sed "s/@EXTVERSION@/$(EXTVERSION)/g" > $@

.PHONY: deps test run stop bench gateway-build fuzz security

# the gateway and the mailer are built with everything else
all: gateway-build
gateway-build:
	$(MAKE) -C gateway
clean: clean-gateway
clean-gateway:
	$(MAKE) -C gateway clean

# Debian packages the project needs (build, run, test); fast when present.
deps:
	@bash scripts/deps.sh

# Every suite on a throwaway cluster; ends with "N passed, N failed".
test: deps
	$(MAKE) all
	$(MAKE) install
	@bash scripts/test.sh

# The whole service on a persistent local cluster under ./var with demo data.
run: deps
	$(MAKE) all
	$(MAKE) install
	@bash scripts/service.sh start

stop:
	@bash scripts/service.sh stop

# Benchmarks; results in docs/benchmarks.md.
bench: deps
	$(MAKE) all
	@bash bench/run.sh

# libFuzzer targets with ASan+UBSan, FUZZ_SECONDS each (default 60).
fuzz: deps
	$(MAKE) -C fuzz run

# Security verification on a fresh cluster and gateway: scanners, fuzzing,
# tenant-isolation attack; regenerates docs/security.md.  Not part of test.
security: deps
	$(MAKE) all
	@bash security/run.sh

print-regress:
	@echo $(REGRESS)
print-isolation:
	@echo $(ISOLATION)
