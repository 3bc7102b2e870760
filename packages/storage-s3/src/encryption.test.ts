import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  S3Client,
} from '@aws-sdk/client-s3';
import { ConfigError } from '@barge/core';
import { patternBytes, randomId, serviceEnv } from '@barge/testkit';
import { S3Storage, type S3StorageOptions } from './index.js';

// moto records the server-side encryption asked for on PutObject and CreateMultipartUpload and
// answers it on HeadObject, as S3 does; it does not encrypt anything or check the KMS key.
const MiB = 1024 * 1024;
const endpoint = serviceEnv('s3');
const credentials = () => ({ accessKeyId: 'test', secretAccessKey: 'test' });
const bucket = randomId('barge-sse');
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/0b6e8d2c-barge-test';
const admin = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: credentials(),
});

function storage(extra: Partial<S3StorageOptions>): S3Storage {
  return new S3Storage({ bucket, endpoint, forcePathStyle: true, ...credentials(), ...extra });
}

describe('s3 (moto): server-side encryption settings reach S3', () => {
  const written: string[] = [];
  before(() => admin.send(new CreateBucketCommand({ Bucket: bucket })));
  after(async () => {
    for (const Key of written) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
    await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    admin.destroy();
  });

  /** Writes `body` through `s`, reads it back, and returns what S3 says about the object. */
  const putAndHead = async (s: S3Storage, body: Buffer): Promise<HeadObjectCommandOutput> => {
    const key = `sse/${randomId('o')}`;
    await s.put(key, body);
    written.push(s.storedKey(key));
    assert.ok((await s.get(key)).equals(body));
    return admin.send(new HeadObjectCommand({ Bucket: bucket, Key: s.storedKey(key) }));
  };

  it('without settings no encryption header is sent (control)', async () => {
    const head = await putAndHead(storage({}), Buffer.from('plain'));
    assert.equal(head.ServerSideEncryption, undefined);
  });

  it('SSE-S3: serverSideEncryption AES256 on PutObject', async () => {
    const head = await putAndHead(storage({ serverSideEncryption: 'AES256' }), Buffer.from('sse-s3'));
    assert.equal(head.ServerSideEncryption, 'AES256');
    assert.equal(head.SSEKMSKeyId, undefined);
  });

  it('SSE-KMS: aws:kms with kmsKeyId and bucketKeyEnabled on PutObject', async () => {
    const s = storage({ serverSideEncryption: 'aws:kms', kmsKeyId: KMS_KEY, bucketKeyEnabled: true });
    const head = await putAndHead(s, Buffer.from('sse-kms'));
    assert.equal(s.lastPut?.mode, 'single');
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, KMS_KEY);
    assert.equal(head.BucketKeyEnabled, true);
  });

  it('SSE-KMS on CreateMultipartUpload (a body above the multipart threshold)', async () => {
    const s = storage({
      serverSideEncryption: 'aws:kms',
      kmsKeyId: KMS_KEY,
      multipartThresholdBytes: '5MiB',
      partSize: '5MiB',
    });
    const head = await putAndHead(s, patternBytes(6 * MiB));
    assert.equal(s.lastPut?.mode, 'multipart');
    assert.equal(head.ServerSideEncryption, 'aws:kms');
    assert.equal(head.SSEKMSKeyId, KMS_KEY);
  });

  it('config: kmsKeyId and bucketKeyEnabled need aws:kms; unknown algorithms are refused', () => {
    const refused = (extra: Partial<S3StorageOptions>, field: RegExp) =>
      assert.throws(
        () => storage(extra),
        (e: unknown) => e instanceof ConfigError && field.test(e.message),
      );
    refused({ kmsKeyId: KMS_KEY }, /storage\.kmsKeyId: kmsKeyId needs serverSideEncryption: aws:kms/);
    refused(
      { serverSideEncryption: 'AES256', bucketKeyEnabled: true },
      /storage\.bucketKeyEnabled: bucketKeyEnabled needs serverSideEncryption: aws:kms/,
    );
    refused({ serverSideEncryption: 'aes256' as never }, /storage\.serverSideEncryption/);
  });
});
