import { Global, Module } from '@nestjs/common';
import { ClusterLink } from './cluster-link';

/** The cluster seam, for every feature; the cluster module fills it in when there are peers. */
@Global()
@Module({ providers: [ClusterLink], exports: [ClusterLink] })
export class ClusterLinkModule {}
