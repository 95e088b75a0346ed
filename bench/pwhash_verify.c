/*
 * pwhash_verify.c
 *	  The baseline of bench/login.sh: how many crypto_pwhash_str_verify()
 *	  calls per second this machine does with T threads on one argon2id hash,
 *	  with nothing else around them.
 *
 * Usage: pwhash_verify HASH PASSWORD SECONDS THREADS
 * Prints: verifications per second (all threads together), then the CPU
 * time of one verification in milliseconds (process CPU time / count).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static const char *hash;
static const char *password;
static double seconds;

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* worker: verify until the time is up; returns the count through arg */
static void *
worker(void *arg)
{
	long	   *count = arg;
	double		end = now() + seconds;

	while (now() < end)
	{
		if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0)
		{
			fprintf(stderr, "pwhash_verify: password does not match the hash\n");
			exit(1);
		}
		(*count)++;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	int			threads;
	pthread_t  *tids;
	long	   *counts;
	long		total = 0;
	double		start;
	double		cpu_start;

	if (argc != 5)
	{
		fprintf(stderr, "usage: %s HASH PASSWORD SECONDS THREADS\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	hash = argv[1];
	password = argv[2];
	seconds = atof(argv[3]);
	threads = atoi(argv[4]);
	tids = calloc(threads, sizeof(pthread_t));
	counts = calloc(threads, sizeof(long));
	start = now();
	cpu_start = cpu_now();
	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, worker, &counts[i]);
	for (int i = 0; i < threads; i++)
	{
		pthread_join(tids[i], NULL);
		total += counts[i];
	}
	printf("%.2f %.3f\n", total / (now() - start), (cpu_now() - cpu_start) * 1000.0 / total);
	return 0;
}
