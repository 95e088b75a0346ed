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

# pg_regress: one file per feature, in two groups that each run in a fresh
# database (scripts/test.sh): the API and its data, and the audit trail
REGRESS_CORE = install privileges admin context rls routing locate reports photos open311 notices scheduler notify \
	crypto passwords login sessions staff_admin registration pii_scan admin_api tenant_exit auth_session audit_api
REGRESS_AUDIT = install audit_coverage audit_row audit_append_only audit_seal audit_events
REGRESS = $(REGRESS_CORE) $(filter-out install,$(REGRESS_AUDIT))
REGRESS_OPTS = --inputdir=. --outputdir=$(CURDIR)/var/test/regress
ISOLATION = audit_concurrency identity_concurrency report_tally
ISOLATION_OPTS = --inputdir=. --outputdir=$(CURDIR)/var/test/isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: every object depends on all of ours (the
# caller context struct is shared, and a stale object would misread it)
$(OBJS): $(wildcard extension/*.h)

machi--$(EXTVERSION).sql: $(sort $(wildcard extension/sql/*.sql)) control/machi.control
	cat $(sort $(wildcard extension/sql/*.sql)) | sed "s/@EXTVERSION@/$(EXTVERSION)/g" > $@

.PHONY: deps test run stop bench gateway-build test-asan fuzz security

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

# Screenshots of the console's main screens into docs/screenshots/: the
# browser suite on a throwaway cluster, saving them as it goes.
.PHONY: screenshots
screenshots: deps
	$(MAKE) all
	$(MAKE) install
	@MACHI_TESTS=browser MACHI_SCREENSHOTS=$(CURDIR)/docs/screenshots bash scripts/test.sh

# The gateway and mailer built with ASan+UBSan, through the end-to-end suite.
test-asan: deps
	$(MAKE) all
	$(MAKE) -C gateway test
	$(MAKE) -C gateway e2e-asan

# libFuzzer targets, each for a bounded time (FUZZ_SECONDS, default 60).
fuzz: deps
	$(MAKE) -C fuzz run

# Benchmarks; results in docs/benchmarks.md.
bench: deps
	$(MAKE) all
	$(MAKE) install
	@bash bench/run.sh

# Operations (ops/, docs/deploying.md).
.PHONY: backup restore-drill test-failover docker-lint

# Full pgBackRest backup of the `make run` cluster into ./var/backup.
backup: deps
	@bash ops/backup.sh

# Restore the latest backup into a scratch cluster and check it; one pass/fail line.
restore-drill: deps
	@bash ops/restore-drill.sh

# Single-primary crash (also in make test) and Patroni + etcd failover tests.
test-failover: deps
	$(MAKE) all
	@bash tests/ops/crash.sh
	@bash tests/ops/failover.sh

# Static checks of docker/ (no Docker daemon needed).
docker-lint:
	@bash docker/lint.sh

# Security verification on a fresh cluster and gateway: scanners, fuzzing,
# tenant-isolation attack; regenerates docs/security.md.  Not part of test.
security: deps
	$(MAKE) all
	@bash security/run.sh

print-regress:
	@echo $(REGRESS_CORE)
print-regress-audit:
	@echo $(REGRESS_AUDIT)
print-isolation:
	@echo $(ISOLATION)
