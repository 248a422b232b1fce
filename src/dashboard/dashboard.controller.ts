import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, HttpStatus, Logger, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../platform/auth/public.decorator';
import { ProblemException } from '../platform/http/problem';

/**
 * The dashboard's files: `src/dashboard/public` under ts-jest and ts-node,
 * `dist/src/dashboard/public` after `nest build` (nest-cli.json copies them).
 */
export const DASHBOARD_DIR = join(__dirname, 'public');

/** Files under /dashboard/, by name. Nothing else is ever read from disk. */
const ASSET_TYPES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * The page loads only its own files and talks only to this origin. Styles set
 * from script (element.style) are CSSOM, which `style-src 'self'` allows.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  /** Short content hash, put in the page's links (`?v=`) so a changed file is fetched anew. */
  version: string;
}

function load(path: string, type: string): StaticFile {
  const body = readFileSync(path);
  const digest = createHash('sha256').update(body).digest('hex');
  return { body, type, etag: `"${digest.slice(0, 32)}"`, version: digest.slice(0, 12) };
}

/**
 * `GET /`: the fleet dashboard, a static page whose script reads the API with
 * the token the user enters, so the page itself is public and holds no data.
 * Files are read once at start and served from memory.
 */
@ApiExcludeController()
@Public()
@Controller()
export class DashboardController {
  private readonly logger = new Logger('Dashboard');
  private readonly page: StaticFile | null;
  private readonly assets = new Map<string, StaticFile>();

  constructor() {
    this.page = this.loadAll();
  }

  @Get()
  index(@Res() res: Response): void {
    if (!this.page) {
      throw new ProblemException(HttpStatus.NOT_FOUND, 'no-dashboard', `the dashboard files are missing from ${DASHBOARD_DIR}`);
    }
    this.send(res, this.page, 'no-cache');
  }

  @Get('dashboard/:file')
  asset(@Param('file') name: string, @Req() req: Request, @Res() res: Response): void {
    const file = this.assets.get(name);
    if (!file) throw new ProblemException(HttpStatus.NOT_FOUND, 'no-route', `no route GET ${req.path}`);
    // A versioned link never changes content: cache it for good. Anything else is revalidated.
    const immutable = req.query.v === file.version;
    this.send(res, file, immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  }

  private send(res: Response, file: StaticFile, cacheControl: string): void {
    res.set({ ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': cacheControl, ETag: file.etag });
    // Express answers 304 when If-None-Match matches the ETag.
    res.send(file.body);
  }

  private loadAll(): StaticFile | null {
    const indexPath = join(DASHBOARD_DIR, 'index.html');
    if (!existsSync(indexPath)) {
      this.logger.warn(`dashboard files not found in ${DASHBOARD_DIR}; GET / will answer 404 (build with "nest build")`);
      return null;
    }
    for (const [name, type] of Object.entries(ASSET_TYPES)) this.assets.set(name, load(join(DASHBOARD_DIR, name), type));
    // Point the page's links at the current versions of the files.
    let html = readFileSync(indexPath, 'utf8');
    for (const [name, file] of this.assets) html = html.split(`/dashboard/${name}"`).join(`/dashboard/${name}?v=${file.version}"`);
    const body = Buffer.from(html, 'utf8');
    const digest = createHash('sha256').update(body).digest('hex');
    return { body, type: 'text/html; charset=utf-8', etag: `"${digest.slice(0, 32)}"`, version: digest.slice(0, 12) };
  }
}
