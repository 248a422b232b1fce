import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { QueryInt } from './validators';

/** `limit` and `offset` of the routes that answer a page of a list. */
export class PageQueryDto {
  /** Page size, 1–500. */
  @ApiPropertyOptional({ example: 50 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  /** Items to skip, in the list's order (hives by id, deployments by name). */
  @ApiPropertyOptional({ example: 0 })
  @IsOptional()
  @QueryInt()
  @IsInt()
  @Min(0)
  offset: number = 0;
}
