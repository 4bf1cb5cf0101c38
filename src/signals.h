/* Signals reach the event loop through a self-pipe: handlers only write the signal number. */
#ifndef DPTY_SIGNALS_H
#define DPTY_SIGNALS_H

#include <signal.h>

typedef struct {
  int pipe[2];                 /* read end polled by the loop */
  struct sigaction saved[NSIG]; /* dispositions before signals_watch, restored by signals_close */
  unsigned char watched[NSIG];
} signal_watch;

int signals_open(signal_watch *w);       /* 0, or -1 with errno */
int signals_watch(signal_watch *w, int sig);
int signals_ignore(signal_watch *w, int sig); /* until signals_close */
/* Reads the next pending signal number, 0 when none. */
int signals_next(signal_watch *w);
void signals_close(signal_watch *w);

#endif
