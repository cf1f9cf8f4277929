import YAML from 'yaml';
import type { Site } from '../site.js';

/** The configuration in force, every secret redacted (src/config/redact.ts), as YAML. */
export function registerConfigPage(site: Site): void {
  site.router.get(
    '/ui/config',
    site.access.view(async (ctx, session) => {
      const { config, loadedAt } = site.operations.configuration();
      site.render.page(ctx, 'config', { title: 'Configuration', nav: 'config', csrf: session.csrf }, { yaml: YAML.stringify(config, { lineWidth: 0 }), loadedAt });
    }),
  );
}
