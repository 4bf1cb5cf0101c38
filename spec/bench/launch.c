/* launch RESULT CMD [ARG...]: run CMD, then write its resource usage to the file RESULT as
 *   "<user s> <sys s> <maxrss KiB> <wait status>\n"
 * and exit like CMD (128+N when killed by signal N).
 *
 * Why a C launcher: ru_maxrss survives exec (the kernel keeps the high-water mark of the mm a
 * process had before exec), so a client forked straight from the Python driver would report
 * the driver's ~40 MiB. Forked from this small process, the client's peak RSS is its own.
 * The launcher closes its stdin and stdout once the client runs, so the end of output is the
 * client's. Build: cc -O2 -o launch launch.c
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: launch RESULT CMD [ARG...]\n");
    return 125;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("launch: fork");
    return 125;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "launch: %s: ", argv[2]);
    perror("exec");
    _exit(127);
  }
  close(0);
  close(1);
  int st;
  struct rusage ru;
  pid_t p;
  while ((p = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR) {
  }
  if (p < 0) {
    perror("launch: wait4");
    return 125;
  }
  FILE *f = fopen(argv[1], "w");
  if (!f) {
    perror(argv[1]);
    return 125;
  }
  fprintf(f, "%ld.%06ld %ld.%06ld %ld %d\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
          (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, ru.ru_maxrss, st);
  fclose(f);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 125;
}
