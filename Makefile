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

.PHONY: deps test run stop bench gateway-build

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

# Operations (ops/, docs/deploying.md).
.PHONY: backup restore-drill test-failover docker-lint

# Full pgBackRest backup of the `make run` cluster into ./var/backup.
backup: deps
	@bash ops/backup.sh

# Restore the latest backup into a scratch cluster and check it; one pass/fail line.
restore-drill: deps
	@bash ops/restore-drill.sh

# Single-primary crash and Patroni + etcd failover tests (also in make test).
test-failover: deps
	$(MAKE) all
	@bash tests/ops/crash.sh
	@bash tests/ops/failover.sh

# Static checks of docker/ (no Docker daemon needed).
docker-lint:
	@bash docker/lint.sh

print-regress:
	@echo $(REGRESS)
print-isolation:
	@echo $(ISOLATION)
