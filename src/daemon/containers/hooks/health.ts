/**
 * The health hook: a container with a health check (its own `Healthcheck`, or the
 * image's, merged at create) gets its monitor at start (status `starting`) and loses it
 * when it stops; its state goes when it is removed (health/health.ts). A start that fails
 * after this hook puts the state back as it was. Restore resumes the monitors of the
 * containers still running (wire.ts), without a start.
 */
import type { HealthService } from '../health/health';
import type { Prepared, ReleaseReason, StartContext, StartHook } from './types';

export class HealthHook implements StartHook {
  readonly name = 'health';

  constructor(private readonly health: HealthService) {}

  async prepare(ctx: StartContext): Promise<Prepared | void> {
    const c = ctx.container;
    this.health.begin({ id: c.id, healthcheck: c.config.Healthcheck, shell: c.config.Shell ?? null, startedAt: new Date() });
  }

  async release(ctx: StartContext, reason: ReleaseReason): Promise<void> {
    const id = ctx.container.id;
    if (reason === 'failed-start') this.health.abort(id);
    else if (reason === 'remove') this.health.forget(id);
    else this.health.end(id);
  }
}
